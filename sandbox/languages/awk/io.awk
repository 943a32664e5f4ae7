{ print $1 * $2; fflush(); print "warn" > "/dev/stderr"; exit 3 }
