// Compile-time bomb for C++: T<N>::type is P<T<N-1>::type, T<N-1>::type>, a type whose name is
// 2^N long. Converting an int to it is an error, and the error message spells the type out: the
// compiler runs out of memory (OOM kill of cc1plus) or of time (compile limit), the program
// never runs. Expected: CE, within the compile limit.
template <class A, class B> struct P {};
template <int N> struct T {
  using type = P<typename T<N - 1>::type, typename T<N - 1>::type>;
};
template <> struct T<0> {
  using type = int;
};

int main() {
  T<40>::type x = 1;
  return 0;
}
