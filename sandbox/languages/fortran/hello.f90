program main
  print '(A)', 'Hello, World!'
end program main
