package main

import (
	"fmt"
	"os"
)

func main() {
	var a, b int64
	fmt.Scan(&a, &b)
	fmt.Println(a * b)
	fmt.Fprintln(os.Stderr, "warn")
	os.Exit(3)
}
