// Flood stderr with lines as fast as Node.js can write them: OLE, truncated. fs.writeSync on the
// raw descriptor: process.stderr.write on a pipe may queue in the program's own memory when the
// reader is slower, and then the program's memory, not its output, can run out first (MLE).
const fs = require('node:fs');

const line = Buffer.from('y'.repeat(99) + '\n');
for (;;) fs.writeSync(2, line);
