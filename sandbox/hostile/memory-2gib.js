// Allocate 2 GiB in Node.js, 64 MiB at a time, filling each buffer (so every page is touched).
// Expected: MLE (OOM kill), never "allocated".
const chunks = [];
console.log('allocating');
while (chunks.length < 32) chunks.push(Buffer.alloc(64 * 1024 * 1024, 1));
console.log('allocated 2 GiB');
