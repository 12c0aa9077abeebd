// Starts a stock Hocuspocus Server (its own http.Server and upgrade handling)
// on 127.0.0.1, port 0, with no extensions: the anchors' default deployment.
export async function startHocuspocus (Server) {
  const server = new Server({ port: 0, address: '127.0.0.1', quiet: true, stopOnSignals: false })
  await server.listen()
  return { port: server.httpServer.address().port, close: () => server.destroy() }
}
