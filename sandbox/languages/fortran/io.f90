program main
  use iso_fortran_env, only: error_unit
  integer(8) :: a, b
  read (*, *) a, b
  print '(I0)', a * b
  write (error_unit, '(A)') 'warn'
  call exit(3)
end program main
