const ok: string = 'OK';
console.log(ok);
