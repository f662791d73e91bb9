//! todo: a tiny to-do list CLI. Standard library only (the argument parser is hand-written;
//! no clap, since crates cannot be downloaded here).
//!
//! Usage: todo [--file PATH] <command> [args]
//!   add <text...>         add an item, prints "added N"
//!   list                  one line per item: "N. [ ] text" or "N. [x] text"
//!   done <N>              mark item N as done
//!   edit <N> <text...>    replace the text of item N, prints "edited N"
//!   count                 prints "<open> open, <done> done"
//! The list is stored in PATH (default todo.txt), one item per line: "0|text" or "1|text".
//! Errors go to stderr with exit code 2 (usage) or 1 (bad item number).

use std::env;
use std::fs;
use std::process;

struct Item {
    done: bool,
    text: String,
}

fn load(path: &str) -> Vec<Item> {
    let content = fs::read_to_string(path).unwrap_or_default();
    content
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (flag, text) = l.split_at(1);
            Item { done: flag == "1", text: text.trim_start_matches('|').to_string() }
        })
        .collect()
}

fn save(path: &str, items: &[Item]) {
    let mut out = String::new();
    for it in items {
        out.push_str(if it.done { "1|" } else { "0|" });
        out.push_str(&it.text);
        out.push('\n');
    }
    fs::write(path, out).expect("cannot write the list");
}

fn usage(msg: &str) -> ! {
    eprintln!("error: {}", msg);
    eprintln!("usage: todo [--file PATH] <add|list|done|edit|count> [args]");
    process::exit(2);
}

fn item_index(arg: Option<&String>, items: &[Item]) -> usize {
    let n: usize = match arg.and_then(|a| a.parse().ok()) {
        Some(n) => n,
        None => usage("expected an item number"),
    };
    if n == 0 || n > items.len() {
        eprintln!("error: no item {}", n);
        process::exit(1);
    }
    n - 1
}

fn main() {
    let mut args: Vec<String> = env::args().skip(1).collect();
    let mut path = String::from("todo.txt");
    if args.len() >= 2 && args[0] == "--file" {
        path = args[1].clone();
        args.drain(0..2);
    }
    if args.is_empty() {
        usage("missing command");
    }
    let mut items = load(&path);
    let command = args[0].clone();
    let rest = &args[1..];
    match command.as_str() {
        "add" => {
            if rest.is_empty() {
                usage("add needs text");
            }
            items.push(Item { done: false, text: rest.join(" ") });
            save(&path, &items);
            println!("added {}", items.len());
        }
        "list" => {
            for (i, it) in items.iter().enumerate() {
                let mark = if it.done { "x" } else { " " };
                println!("{}. [{}] {}", i + 1, mark, it.text);
            }
        }
        "done" => {
            let i = item_index(rest.first(), &items);
            items[i].done = true;
            save(&path, &items);
        }
        "edit" => {
            let i = item_index(rest.first(), &items);
            items[i].text = rest[1..].join(" ");
            items[i].done = false;
            save(&path, &items);
            println!("edited {}", i + 1);
        }
        "count" => {
            let done = items.iter().filter(|it| it.done).count();
            println!("{} open, {} done", items.len() - done, done);
        }
        other => usage(&format!("unknown command {}", other)),
    }
}
