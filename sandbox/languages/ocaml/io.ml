let () =
  Scanf.scanf " %d %d" (fun a b -> Printf.printf "%d\n%!" (a * b));
  prerr_endline "warn";
  exit 3
