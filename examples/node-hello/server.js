// A plain Node.js HTTP server: the Node buildpack runs `npm ci`, then `scripts.start`.
const http = require("http");
const ms = require("ms");

const started = Date.now();
const server = http.createServer((req, res) => {
  res.writeHead(200, { "Content-Type": "text/plain" });
  res.end(`Hello from Node.js, up for ${ms(Date.now() - started)}\n`);
});
server.listen(Number(process.env.PORT || 5000), process.env.HOST || "0.0.0.0");
