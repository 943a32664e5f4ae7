/**
 * Starter programs shown in a language's main file the first time it is picked. Each greets the
 * user through stdin, so an interactive run shows the input line at once. Ids are those of
 * `sandbox/languages/<id>/`; a language without a starter opens with an empty file.
 */
const STARTERS: Record<string, string> = {
  python: `name = input("What is your name? ")
print(f"Hello, {name}!")
`,
  javascript: `const readline = require('node:readline');

const rl = readline.createInterface({ input: process.stdin, output: process.stdout });
rl.question('What is your name? ', (name) => {
  console.log(\`Hello, \${name}!\`);
  rl.close();
});
`,
  typescript: `import * as readline from 'node:readline';

const rl = readline.createInterface({ input: process.stdin, output: process.stdout });
rl.question('What is your name? ', (name: string) => {
  console.log(\`Hello, \${name}!\`);
  rl.close();
});
`,
  c: `#include <stdio.h>

int main(void) {
    char name[100] = "";
    printf("What is your name? ");
    fflush(stdout);
    if (scanf("%99s", name) != 1) return 1;
    printf("Hello, %s!\\n", name);
    return 0;
}
`,
  cpp: `#include <iostream>
#include <string>

int main() {
    std::string name;
    std::cout << "What is your name? " << std::flush;
    std::getline(std::cin, name);
    std::cout << "Hello, " << name << "!\\n";
}
`,
  java: `import java.util.Scanner;

public class Main {
    public static void main(String[] args) {
        Scanner in = new Scanner(System.in);
        System.out.print("What is your name? ");
        System.out.flush();
        String name = in.nextLine();
        System.out.println("Hello, " + name + "!");
    }
}
`,
  go: `package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"
)

func main() {
	fmt.Print("What is your name? ")
	name, _ := bufio.NewReader(os.Stdin).ReadString('\\n')
	fmt.Printf("Hello, %s!\\n", strings.TrimSpace(name))
}
`,
  rust: `use std::io::{self, Write};

fn main() {
    print!("What is your name? ");
    io::stdout().flush().unwrap();
    let mut name = String::new();
    io::stdin().read_line(&mut name).unwrap();
    println!("Hello, {}!", name.trim());
}
`,
  ruby: `print "What is your name? "
$stdout.flush
name = gets.to_s.strip
puts "Hello, #{name}!"
`,
  bash: `read -r -p "What is your name? " name
echo "Hello, $name!"
`,
};

/** The starter program of a language id, or '' for a language without one. */
export function starterFor(languageId: string): string {
  return STARTERS[languageId] ?? '';
}
