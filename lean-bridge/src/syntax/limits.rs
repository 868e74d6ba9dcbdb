//! Every size and count limit of the syntax half, named, in one place.

/// How deeply nested tactic blocks (a `by` inside a `have` inside a bullet …) are segmented.
/// Deeper blocks stay part of their enclosing step. The segmenter recurses once per level, so
/// this bounds its stack use on adversarial input such as thousands of `by by by …`.
pub const MAX_BLOCK_NESTING: usize = 64;

/// How many problems of one kind one declaration reports (unclosed brackets, stray bars …);
/// the rest are dropped so that a badly broken file does not produce thousands of problems.
pub const MAX_PROBLEMS_PER_KIND_PER_DECLARATION: usize = 8;

/// How many tab problems a file reports (one per line that indents with a tab).
pub const MAX_TAB_PROBLEMS: usize = 16;

/// How long one tree-sitter parse may run before it is cancelled and the outline falls back to
/// the keyword scan alone. A 2,000-line file parses in about 20 ms; some inputs (hundreds of
/// kilobytes of `by by by …`) take tree-sitter's error recovery minutes.
pub const TREE_SITTER_PARSE_BUDGET: std::time::Duration = std::time::Duration::from_millis(500);
