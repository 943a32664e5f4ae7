:- initialization(main, main).

main :-
    read_line_to_string(user_input, Line),
    split_string(Line, " ", " ", [SA, SB]),
    number_string(A, SA),
    number_string(B, SB),
    P is A * B,
    format("~d~n", [P]),
    format(user_error, "warn~n", []),
    halt(3).
