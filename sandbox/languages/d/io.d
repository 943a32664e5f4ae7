import std.stdio;

int main() {
    long a, b;
    readf(" %d %d", &a, &b);
    writeln(a * b);
    stdout.flush();
    stderr.writeln("warn");
    return 3;
}
