(write-line "OK")
