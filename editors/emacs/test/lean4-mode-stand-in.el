;;; lean4-mode-stand-in.el --- TEST DOUBLE: a bare lean4-mode for Proofwright's tests  -*- lexical-binding: t; -*-

;;; Commentary:

;; Test-only, never shipped.  lean4-mode is not packaged by Debian and cannot
;; be fetched on the project's machines, so Proofwright's Emacs tests load
;; this instead: a major mode named `lean4-mode' for .lean files, with Lean's
;; comment syntax, which is all Proofwright's clients key on.  It starts no
;; Lean server and checks nothing.

;;; Code:

(define-derived-mode lean4-mode prog-mode "Lean4[stand-in]"
  "TEST DOUBLE standing in for lean4-mode in Proofwright's tests."
  (setq-local comment-start "-- ")
  (setq-local comment-start-skip "--+\\s-*"))

(add-to-list 'auto-mode-alist '("\\.lean\\'" . lean4-mode))

(provide 'lean4-mode-stand-in)

;;; lean4-mode-stand-in.el ends here
