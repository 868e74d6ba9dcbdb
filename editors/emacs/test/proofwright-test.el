;;; proofwright-test.el --- ERT tests of proofwright.el in batch Emacs  -*- lexical-binding: t; -*-

;;; Commentary:

;; Unit tests of the settings object, messages and eglot setup, then two
;; real-editor tests: lsp-mode (Proofwright as an add-on client) and eglot
;; (`proofwright serve --proxy-lean') each open the fixture Lean file, wait
;; for a Proofwright diagnostic, apply the "Prove this sorry" code action and
;; check that the buffer changed at the sorry.
;;
;; Environment: PROOFWRIGHT_BINARY (default: the repository's
;; target/debug/proofwright), PROOFWRIGHT_TEST_MODEL (default: the tiny demo
;; prover, else a tiny fixture checkpoint), PROOFWRIGHT_TEST_ARTIFACTS (where
;; the lsp-mode and eglot logs are written).

;;; Code:

(require 'ert)
(require 'cl-lib)
(require 'subr-x)

(defconst proofwright-test--directory
  (file-name-directory (or load-file-name buffer-file-name))
  "This file's folder, editors/emacs/test/.")

(defconst proofwright-test--repository
  (expand-file-name "../../../" proofwright-test--directory)
  "The repository root.")

(add-to-list 'load-path (expand-file-name ".." proofwright-test--directory))
(add-to-list 'load-path proofwright-test--directory)
(require 'lean4-mode-stand-in)
(require 'lsp-mode)
(require 'proofwright)
(require 'proofwright-lsp)
(require 'proofwright-eglot)

(defconst proofwright-test--diagnostic-timeout-seconds 240
  "Model loading plus one background verification by a debug build on 2 cores.")
(defconst proofwright-test--prove-timeout-seconds 300
  "One search (the settings below keep it small) by a debug build on 2 cores.")
(defconst proofwright-test--start-timeout-seconds 60
  "Starting the server and the initialize handshake.")
(defconst proofwright-test--poll-seconds 0.1
  "How long each wait for process output lasts.")
(defconst proofwright-test--prove-action-title "Prove this sorry"
  "The code action title docs/lsp.md gives.")
(defconst proofwright-test--fixture-workspace
  (expand-file-name "../../fixtures/workspace/" proofwright-test--directory)
  "The fixture workspace shared with the VS Code test.")
(defconst proofwright-test--fixture-file "Proofs.lean"
  "The fixture Lean file, with one `sorry'.")

;;;; Unit tests

(defmacro proofwright-test--with-settings (bindings &rest body)
  "Run BODY with the settings in BINDINGS, every other setting at its default."
  (declare (indent 1))
  `(let ((proofwright-model nil) (proofwright-template "auto") (proofwright-device "auto")
         (proofwright-threads nil) (proofwright-samples 4) (proofwright-rounds 2)
         (proofwright-max-new-tokens 256) (proofwright-seed 0) (proofwright-temperature 0.8)
         (proofwright-verifier "fast") (proofwright-verifier-threshold nil)
         (proofwright-lean "auto") (proofwright-debounce-ms 500) (proofwright-time-budget-seconds 120))
     (let ,bindings ,@body)))

(ert-deftest proofwright-settings-defaults ()
  "The defaults, with no model so the server picks its own, in the server's key names."
  (proofwright-test--with-settings ()
    (should (equal (proofwright-settings)
                   '(:template "auto" :device "auto" :threads nil :samples 4 :rounds 2 :maxNewTokens 256
                     :seed 0 :temperature 0.8 :verifier "fast" :verifierThreshold nil :lean "auto"
                     :debounceMs 500 :timeBudgetSeconds 120)))
    ;; As lsp-mode and jsonrpc serialize it (Emacs 28 writes 0.8 with 17 significant digits).
    (should (equal (json-serialize (proofwright-settings) :null-object nil :false-object :json-false)
                   (concat "{\"template\":\"auto\",\"device\":\"auto\",\"threads\":null,\"samples\":4,\"rounds\":2,"
                           "\"maxNewTokens\":256,\"seed\":0,\"temperature\":0.80000000000000004,\"verifier\":\"fast\",\"verifierThreshold\":null,"
                           "\"lean\":\"auto\",\"debounceMs\":500,\"timeBudgetSeconds\":120}")))))

(ert-deftest proofwright-settings-customized ()
  "Every customized value goes out under its key."
  (proofwright-test--with-settings ((proofwright-model "/models/prover") (proofwright-template "chat")
                                    (proofwright-device "cuda") (proofwright-temperature 0)
                                    (proofwright-threads 8) (proofwright-samples 16) (proofwright-rounds 0)
                                    (proofwright-max-new-tokens 64) (proofwright-seed 3)
                                    (proofwright-verifier "deep") (proofwright-verifier-threshold 0.4)
                                    (proofwright-lean "off") (proofwright-debounce-ms 0)
                                    (proofwright-time-budget-seconds 2.5))
    (should (equal (proofwright-settings)
                   '(:model "/models/prover" :template "chat" :device "cuda" :threads 8 :samples 16 :rounds 0
                     :maxNewTokens 64 :seed 3 :temperature 0 :verifier "deep" :verifierThreshold 0.4 :lean "off"
                     :debounceMs 0 :timeBudgetSeconds 2.5)))))

(ert-deftest proofwright-settings-empty-model-left-out ()
  "An empty model string means the server's default, like nil."
  (proofwright-test--with-settings ((proofwright-model ""))
    (should-not (plist-member (proofwright-settings) :model))))

(ert-deftest proofwright-lsp-custom-settings-cover-every-key ()
  "workspace/configuration answers every setting under the proofwright section."
  (should (equal (mapcar #'car (proofwright-lsp--custom-settings))
                 '("proofwright.model" "proofwright.template" "proofwright.device" "proofwright.threads"
                   "proofwright.samples" "proofwright.rounds" "proofwright.maxNewTokens" "proofwright.seed"
                   "proofwright.temperature" "proofwright.verifier" "proofwright.verifierThreshold" "proofwright.lean"
                   "proofwright.debounceMs" "proofwright.timeBudgetSeconds"))))

(ert-deftest proofwright-missing-binary-says-what-to-do ()
  "A missing binary is a user error naming the setting, never a crash."
  (let ((proofwright-binary "proofwright-not-installed-anywhere")
        (text-quoting-style 'grave))
    (should (equal (should-error (proofwright-server-command) :type 'user-error)
                   '(user-error "Proofwright: proofwright-not-installed-anywhere was not found: build it with `cargo install --path server' from the Proofwright repository, or set `proofwright-binary' to its full path"))))
  (let ((proofwright-binary "/nonexistent/proofwright"))
    (should-error (proofwright-server-command) :type 'user-error)))

(ert-deftest proofwright-server-command-lines ()
  "The plain and the --proxy-lean command lines."
  (let ((proofwright-binary "/bin/sh"))
    (should (equal (proofwright-server-command) '("/bin/sh" "serve")))
    (should (equal (proofwright-server-command t) '("/bin/sh" "serve" "--proxy-lean")))
    (should (equal (proofwright-eglot-contact) '(proofwright-eglot-server "/bin/sh" "serve" "--proxy-lean")))))

(ert-deftest proofwright-eglot-setup-replaces-the-lean-entry ()
  "The setup puts Proofwright first for lean4-mode and drops other lean4-mode entries."
  (let ((eglot-server-programs '((lean4-mode . ("lake" "serve")) ((rust-mode rust-ts-mode) . ("rust-analyzer")))))
    (proofwright-eglot-setup)
    (should (equal eglot-server-programs
                   '((lean4-mode . proofwright-eglot-contact) ((rust-mode rust-ts-mode) . ("rust-analyzer")))))))

(ert-deftest proofwright-result-messages ()
  "What the user reads after each kind of answer."
  (dolist (case '(("prove" (:applied t :provenance "lean-verified" :score 0.9 :message "round 1")
                   "Proofwright prove: verified by Lean, applied. round 1")
                  ("prove" (:applied t :provenance "neural" :score 0.8345 :message "")
                   "Proofwright prove: neural score 0.83, not checked by Lean, applied")
                  ("refine" (:applied :json-false :provenance "unproved" :score nil :message "time budget spent")
                   "Proofwright refine: no proof found. time budget spent")
                  ("verify" (:provenance "flagged" :score 0.1 :flagged [(:reason "a") (:reason "b")])
                   "Proofwright verify: flagged by the verifier (score 0.10), 2 flagged")
                  ("prove" nil "Proofwright prove: unknown result")))
    (should (equal (proofwright-result-message (nth 0 case) (nth 1 case)) (nth 2 case)))))

(ert-deftest proofwright-result-message-reads-hash-tables ()
  "lsp-mode hands results over as hash tables with string keys."
  (let ((result (make-hash-table :test #'equal)))
    (puthash "provenance" "neural" result)
    (puthash "score" 0.5 result)
    (puthash "applied" t result)
    (should (equal (proofwright-result-message "prove" result)
                   "Proofwright prove: neural score 0.50, not checked by Lean, applied"))))

(ert-deftest proofwright-status-summaries ()
  "The status line for a ready, a busy and a failed server."
  (should (equal (proofwright-status-summary
                  '(:model (:spec "/models/Goedel-Prover-V2-8B/" :state "ready" :message nil) :device "cuda:0"
                    :lean (:state "available" :message nil) :queue (:running 0 :waiting 0)))
                 "Goedel-Prover-V2-8B (ready), cuda:0, Lean available"))
  (should (equal (proofwright-status-summary
                  '(:model (:spec "AI-MO/Kimina-Prover-Distill-1.7B" :state "ready") :device "cpu"
                    :lean (:state "unavailable" :message "no lake on PATH") :queue (:running 1 :waiting 2)))
                 "Kimina-Prover-Distill-1.7B (ready), cpu, Lean unavailable, 1 running, 2 waiting; Lean: no lake on PATH"))
  (should (equal (proofwright-status-summary
                  '(:model (:spec "" :state "failed" :message "config.json: missing field hidden_size") :device "cpu"
                    :lean (:state "off") :queue nil))
                 "no model (failed), cpu, Lean off; model: config.json: missing field hidden_size")))

;;;; Real-editor tests

(defun proofwright-test--environment (name default)
  "The environment variable NAME, or DEFAULT when unset or empty."
  (let ((value (getenv name)))
    (if (and value (not (string-empty-p value))) value default)))

(defun proofwright-test--binary ()
  "The server binary under test."
  (proofwright-test--environment
   "PROOFWRIGHT_BINARY" (expand-file-name "target/debug/proofwright" proofwright-test--repository)))

(defun proofwright-test--model ()
  "The model the server under test loads."
  (let ((tiny-prover (expand-file-name "tests/fixtures/tiny-prover" proofwright-test--repository)))
    (proofwright-test--environment
     "PROOFWRIGHT_TEST_MODEL"
     (if (file-directory-p tiny-prover)
         tiny-prover
       (expand-file-name "model/tests/fixtures/qwen2-default-f32-v5-sharded" proofwright-test--repository)))))

(defun proofwright-test--lean-stand-in ()
  "The Lean stand-in test double (tests/lean-stand-in), which answers as `lake serve'."
  (proofwright-test--environment
   "PROOFWRIGHT_LEAN_STAND_IN_BINARY"
   (expand-file-name "target/debug/lean-stand-in-test-double" proofwright-test--repository)))

(defun proofwright-test--fake-toolchain ()
  "A folder holding `lean' and `lake' that run the Lean stand-in; return it.
Put first on PATH, it is the toolchain --proxy-lean finds."
  (let ((stand-in (proofwright-test--lean-stand-in))
        (folder (make-temp-file "proofwright-fake-toolchain-" t)))
    (unless (file-executable-p stand-in)
      (ert-fail (format "%s is missing: build it with `cargo build -p lean-stand-in-test-double' or set PROOFWRIGHT_LEAN_STAND_IN_BINARY" stand-in)))
    (dolist (name '("lean" "lake"))
      (make-symbolic-link stand-in (expand-file-name name folder)))
    folder))

(defun proofwright-test--artifacts ()
  "Where the tests leave their logs."
  (let ((directory (proofwright-test--environment
                    "PROOFWRIGHT_TEST_ARTIFACTS" (expand-file-name "artifacts" proofwright-test--directory))))
    (make-directory directory t)
    directory))

(defun proofwright-test--copy-fixture ()
  "A fresh copy of the fixture workspace; return its folder."
  (let ((copy (file-name-as-directory (make-temp-file "proofwright-emacs-test-" t))))
    (copy-directory proofwright-test--fixture-workspace copy nil nil t)
    copy))

(defun proofwright-test--wait-until (predicate timeout-seconds what)
  "Process output and timers until PREDICATE is non-nil; fail after TIMEOUT-SECONDS naming WHAT."
  (let ((deadline (+ (float-time) timeout-seconds))
        (value nil))
    (while (and (not (setq value (funcall predicate))) (< (float-time) deadline))
      (accept-process-output nil proofwright-test--poll-seconds))
    (or value (ert-fail (format "timed out after %s s waiting for %s" timeout-seconds what)))))

(defun proofwright-test--goto-sorry ()
  "Move point to the first `sorry' outside a comment; return its 1-based line."
  (goto-char (point-min))
  (let (found)
    (while (and (not found) (search-forward "sorry" nil t))
      (unless (nth 4 (syntax-ppss (match-beginning 0)))
        (setq found (match-beginning 0))))
    (unless found (ert-fail "the fixture has no sorry outside a comment"))
    (goto-char found)
    (line-number-at-pos)))

(defun proofwright-test--check-proved (original sorry-line)
  "Check the buffer changed from ORIGINAL at SORRY-LINE and nowhere before it."
  (let* ((now (buffer-substring-no-properties (point-min) (point-max)))
         (original-lines (split-string original "\n"))
         (now-lines (split-string now "\n")))
    (should-not (equal now original))
    (should (equal (seq-take now-lines (1- sorry-line)) (seq-take original-lines (1- sorry-line))))
    (should-not (string-match-p "\\`[[:space:]·]*sorry[[:space:]]*\\'" (nth (1- sorry-line) now-lines)))))

(defun proofwright-test--check-status ()
  "Run `proofwright-status' and check the server reports the model under test."
  (setq proofwright--status nil)
  (proofwright-status)
  (let* ((status (proofwright-test--wait-until (lambda () proofwright--status)
                                               proofwright-test--start-timeout-seconds
                                               "the answer to proofwright.status"))
         (spec (proofwright--get (proofwright--get status :model) :spec)))
    (message "status: %s" (proofwright-status-summary status))
    (should (equal (directory-file-name spec) (directory-file-name (proofwright-test--model))))))

(defmacro proofwright-test--with-small-search (&rest body)
  "Run BODY with the server under test and settings that keep a search small."
  (declare (indent 0))
  `(let ((proofwright-binary (proofwright-test--binary))
         (proofwright-model (proofwright-test--model))
         (proofwright-device "cpu") (proofwright-threads 2) (proofwright-samples 2) (proofwright-rounds 1)
         (proofwright-max-new-tokens 16) (proofwright-seed 0) (proofwright-lean "off")
         (proofwright-debounce-ms 100) (proofwright-time-budget-seconds 120)
         ;; Far above the tiny prover's calibrated threshold (0.001, its proofwright.json), so
         ;; that the fixture's steps are flagged and a Proofwright diagnostic appears.
         (proofwright-verifier-threshold 0.5))
     (should (file-executable-p proofwright-binary))
     (should (file-directory-p proofwright-model))
     ,@body))

(defun proofwright-test--lsp-proofwright-diagnostics (file)
  "Proofwright's diagnostics of FILE as lsp-mode holds them."
  (cl-remove-if-not (lambda (diagnostic) (equal (lsp:diagnostic-source? diagnostic) "proofwright"))
                    (gethash (lsp--fix-path-casing file) (lsp-diagnostics t))))

(ert-deftest proofwright-lsp-mode-proves-a-sorry ()
  "lsp-mode runs Proofwright as an add-on client: a diagnostic, then Prove this sorry edits the buffer."
  (proofwright-test--with-small-search
    (let* ((workspace (proofwright-test--copy-fixture))
           (file (expand-file-name proofwright-test--fixture-file workspace))
           (lsp-session-file (expand-file-name "lsp-session" (make-temp-file "proofwright-lsp-session-" t)))
           (lsp-auto-guess-root nil) (lsp-restart 'ignore) (lsp-keep-workspace-alive nil)
           (lsp-enable-file-watchers nil) (lsp-diagnostics-provider :none) (lsp-completion-enable nil)
           (lsp-headerline-breadcrumb-enable nil) (lsp-modeline-code-actions-enable nil)
           (lsp-modeline-diagnostics-enable nil) (lsp-modeline-workspace-status-enable nil)
           (lsp-lens-enable nil) (lsp-enable-symbol-highlighting nil) (lsp-signature-auto-activate nil)
           (lsp-eldoc-enable-hover nil) (lsp-enable-on-type-formatting nil) (lsp-before-save-edits nil)
           (lsp-log-io t)
           (buffer nil))
      (unwind-protect
          (progn
            (setf (lsp-session-folders (lsp-session)) (list workspace))
            (setq buffer (find-file-noselect file))
            (with-current-buffer buffer
              (should (eq major-mode 'lean4-mode))
              (let ((original (buffer-string)))
                (lsp)
                (proofwright-test--wait-until
                 (lambda () (let ((workspace (proofwright-lsp--workspace)))
                              (and workspace (eq (lsp--workspace-status workspace) 'initialized))))
                 proofwright-test--start-timeout-seconds "the Proofwright workspace to initialize")
                (let ((diagnostic (car (proofwright-test--wait-until
                                        (lambda () (proofwright-test--lsp-proofwright-diagnostics file))
                                        proofwright-test--diagnostic-timeout-seconds
                                        "a Proofwright diagnostic"))))
                  (message "first Proofwright diagnostic: %s" (lsp:diagnostic-message diagnostic)))
                (proofwright-test--check-status)
                (let* ((sorry-line (proofwright-test--goto-sorry))
                       (actions (append (lsp-code-actions-at-point) nil))
                       (prove (cl-find proofwright-test--prove-action-title actions
                                       :key #'lsp:code-action-title :test #'equal)))
                  (should prove)
                  (lsp-execute-code-action prove)
                  (proofwright-test--wait-until
                   (lambda () (not (equal (buffer-string) original)))
                   proofwright-test--prove-timeout-seconds "Prove this sorry to change the buffer")
                  (proofwright-test--check-proved original sorry-line)))))
        (dolist (log-buffer (buffer-list))
          (when (string-prefix-p "*lsp-log" (buffer-name log-buffer))
            (with-current-buffer log-buffer
              (write-region nil nil (expand-file-name "lsp-mode-io.log" (proofwright-test--artifacts)) t 'silent))))
        (when (buffer-live-p buffer)
          (with-current-buffer buffer
            (set-buffer-modified-p nil)
            (when-let ((workspace (proofwright-lsp--workspace)))
              (lsp-workspace-shutdown workspace)))
          (kill-buffer buffer))))))

(ert-deftest proofwright-eglot-proves-a-sorry ()
  "eglot runs `proofwright serve --proxy-lean': a diagnostic, then Prove this sorry edits the buffer."
  (proofwright-test--with-small-search
    (let* ((workspace (proofwright-test--copy-fixture))
           (file (expand-file-name proofwright-test--fixture-file workspace))
           (eglot-server-programs (copy-sequence eglot-server-programs))
           (eglot-sync-connect proofwright-test--start-timeout-seconds)
           (eglot-connect-timeout proofwright-test--start-timeout-seconds)
           (eglot-autoshutdown t)
           ;; Applying the server's edit asks first; batch Emacs has nobody to answer.
           (eglot-confirm-server-initiated-edits nil)
           (eglot-events-buffer-size 2000000)
           ;; --proxy-lean runs `lake serve'; Lean cannot be installed here, so the stand-in answers.
           (toolchain (proofwright-test--fake-toolchain))
           (process-environment (cons (concat "PATH=" toolchain path-separator (getenv "PATH")) process-environment))
           (exec-path (cons toolchain exec-path))
           (buffer nil))
      (proofwright-eglot-setup)
      (unwind-protect
          (progn
            (setq buffer (find-file-noselect file))
            (with-current-buffer buffer
              (should (eq major-mode 'lean4-mode))
              (let ((original (buffer-string)))
                ;; `eglot-ensure' connects after the next command, which never comes in batch
                ;; Emacs: connect the way the interactive `eglot' command does.
                (apply #'eglot (eglot--guess-contact))
                (proofwright-test--wait-until #'proofwright-eglot--server
                                              proofwright-test--start-timeout-seconds
                                              "eglot to connect to Proofwright")
                (let ((diagnostic (car (proofwright-test--wait-until
                                        (lambda ()
                                          (flymake-start)
                                          ;; eglot writes "SOURCE [CODE]: MESSAGE"; Lean's own
                                          ;; diagnostics come through the proxy too.
                                          (cl-remove-if-not
                                           (lambda (diagnostic)
                                             (string-prefix-p "proofwright" (flymake-diagnostic-text diagnostic)))
                                           (flymake-diagnostics)))
                                        proofwright-test--diagnostic-timeout-seconds
                                        "a Proofwright diagnostic"))))
                  (message "first Proofwright diagnostic: %s" (flymake-diagnostic-text diagnostic)))
                (proofwright-test--check-status)
                (let* ((sorry-line (proofwright-test--goto-sorry))
                       (actions (eglot-code-actions (point) (point)))
                       (prove (cl-find proofwright-test--prove-action-title actions
                                       :key (lambda (action) (plist-get action :title)) :test #'equal)))
                  (should prove)
                  (let ((command (plist-get prove :command)))
                    (eglot-execute-command (proofwright-eglot--server)
                                           (intern (plist-get command :command))
                                           (plist-get command :arguments)))
                  (proofwright-test--wait-until
                   (lambda () (not (equal (buffer-string) original)))
                   proofwright-test--prove-timeout-seconds "Prove this sorry to change the buffer")
                  (proofwright-test--check-proved original sorry-line)))))
        (when-let ((server (and (buffer-live-p buffer) (with-current-buffer buffer (proofwright-eglot--server)))))
          (with-current-buffer (jsonrpc-events-buffer server)
            (write-region nil nil (expand-file-name "eglot-events.log" (proofwright-test--artifacts)) nil 'silent))
          (ignore-errors (eglot-shutdown server)))
        (when (buffer-live-p buffer)
          (with-current-buffer buffer (set-buffer-modified-p nil))
          (kill-buffer buffer))))))

(provide 'proofwright-test)

;;; proofwright-test.el ends here
