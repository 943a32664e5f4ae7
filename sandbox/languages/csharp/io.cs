using System;

public static class Program {
  public static int Main() {
    var n = Console.ReadLine().Split(new[] {' '}, StringSplitOptions.RemoveEmptyEntries);
    Console.WriteLine(long.Parse(n[0]) * long.Parse(n[1]));
    Console.Error.WriteLine("warn");
    return 3;
  }
}
