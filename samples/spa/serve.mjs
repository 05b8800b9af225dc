// Serves the single-page app: index.html, app.js, oauth4webapi (from node_modules) and config.json (the issuer and client
// id given here), with a Content-Security-Policy that lets the page call Latchkey and nothing else.
//   node serve.mjs --port 5173 --issuer http://localhost:5000 --client-id spa
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { port: { type: 'string', default: '5173' }, host: { type: 'string', default: '127.0.0.1' },
  issuer: { type: 'string', default: 'http://localhost:5000' }, 'client-id': { type: 'string', default: 'spa' } } });
const here = dirname(fileURLToPath(import.meta.url));
const files = {
  '/': ['index.html', 'text/html; charset=utf-8'],
  '/app.js': ['app.js', 'text/javascript; charset=utf-8'],
  '/oauth4webapi.js': [join('node_modules', 'oauth4webapi', 'build', 'index.js'), 'text/javascript; charset=utf-8'],
};
const config = JSON.stringify({ issuer: values.issuer, client_id: values['client-id'] });
const policy = `default-src 'self'; img-src data:; connect-src 'self' ${new URL(values.issuer).origin}; frame-ancestors 'none'; base-uri 'none'`;

const server = createServer(async (req, res) => {
  const path = new URL(req.url, 'http://spa').pathname;
  const headers = { 'content-security-policy': policy, 'referrer-policy': 'no-referrer', 'x-content-type-options': 'nosniff', 'cache-control': 'no-store' };
  if (path === '/config.json') {
    res.writeHead(200, { ...headers, 'content-type': 'application/json' });
    res.end(config);
    return;
  }
  const file = files[path];
  if (!file) {
    res.writeHead(404, headers);
    res.end();
    return;
  }
  res.writeHead(200, { ...headers, 'content-type': file[1] });
  res.end(await readFile(join(here, file[0])));
});
server.listen(Number(values.port), values.host, () => {
  const { port } = server.address();
  // The line the tests wait for, as ASP.NET Core prints it.
  console.log(`Now listening on: http://${values.host}:${port}`);
});
