read -r a b
echo $((a * b))
echo warn >&2
exit 3
