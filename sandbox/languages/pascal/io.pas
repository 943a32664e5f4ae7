program Main;
var a, b: Int64;
begin
  ReadLn(a, b);
  WriteLn(a * b);
  WriteLn(StdErr, 'warn');
  Halt(3);
end.
