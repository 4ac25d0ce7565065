// Starts an Aedes broker (in-memory persistence, its default options) on 127.0.0.1 only.
// Used by scripts/lib/brokers.sh (start_broker aedes); Aedes itself comes from NODE_PATH
// (install_aedes puts it in $BROKERS_ROOT/aedes-<version>/node_modules).
//
// Usage: NODE_PATH=.../node_modules node scripts/brokers/aedes-server.js PORT
'use strict'

const net = require('net')
const { Aedes } = require('aedes')

async function main () {
  const port = Number(process.argv[2])
  if (!Number.isInteger(port) || port <= 0 || port > 65535) {
    console.error('usage: aedes-server.js PORT')
    process.exit(2)
  }
  const broker = await Aedes.createBroker()
  // A client's misbehaviour is logged, never fatal to the broker.
  broker.on('clientError', (client, err) => {
    console.error(`client ${client && client.id}: ${err.message}`)
  })
  const server = net.createServer(broker.handle)
  server.listen(port, '127.0.0.1', () => {
    console.error(`aedes listening on 127.0.0.1:${port}`)
  })
  const stop = () => server.close(() => broker.close(() => process.exit(0)))
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
