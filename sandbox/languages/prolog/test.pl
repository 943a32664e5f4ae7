:- initialization(main, main).

main :- writeln('OK').
