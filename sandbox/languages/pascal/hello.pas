program Main;
begin
  WriteLn('Hello, World!');
end.
