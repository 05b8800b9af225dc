// Reads all of stdin as one JSON value: tokens and keys stay out of argv (and so out of `ps`).
export async function readInput() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}
