// A plain node:http upstream for benchmarks, in its own process so its CPU is not the client's.
import { createServer } from 'node:http'

const body = Buffer.from('ok')
const server = createServer((req, res) => {
  req.resume()
  req.on('end', () => {
    res.setHeader('content-length', body.length)
    res.end(body)
  })
})
server.keepAliveTimeout = 60_000
server.listen(0, '127.0.0.1', () => process.send?.({ port: server.address().port }))
process.on('disconnect', () => process.exit(0))
