def (a, b) = System.in.newReader().readLine().trim().split(/\s+/)*.toLong()
println a * b
System.err.println 'warn'
System.exit 3
