-- stdin as a table (.import), stderr with .output, an exit code with .exit
CREATE TABLE input (a INTEGER, b INTEGER);
.separator " "
.import /dev/stdin input
SELECT a * b FROM input;
.output /dev/stderr
SELECT 'warn';
.exit 3
