puts OK
