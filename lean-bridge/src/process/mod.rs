//! Lean processes: toolchain discovery, the language-server and REPL clients, and the pool.
