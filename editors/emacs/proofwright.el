;;; proofwright.el --- Proofwright, an AI proof assistant for Lean 4  -*- lexical-binding: t; -*-

;; Version: 0.1.0
;; Package-Requires: ((emacs "27.1"))
;; Keywords: languages, tools, lean
;; SPDX-License-Identifier: Apache-2.0

;;; Commentary:

;; Runs the Proofwright language server (`proofwright serve') on Lean 4
;; buffers: flagged proof steps as diagnostics, code actions such as
;; "Prove this sorry", and commands to prove, refine and verify at point.
;;
;; With lsp-mode, Proofwright is an add-on client: it runs beside
;; lean4-mode's own client, and both serve the same buffer.
;;
;;   (with-eval-after-load 'lsp-mode (require 'proofwright-lsp))
;;
;; With eglot, which runs one server per buffer, Proofwright starts
;; `proofwright serve --proxy-lean': it runs Lean's server (`lake serve')
;; itself, forwards every Lean request to it and merges its own results, so
;; the one server gives both.
;;
;;   (require 'proofwright-eglot)
;;   (proofwright-eglot-setup)
;;
;; Settings are in the customization group `proofwright'; they mirror the
;; server's settings (docs/lsp.md in the Proofwright repository) and are sent
;; as initializationOptions and, when changed through Customize or
;; `proofwright-apply-settings', as workspace/didChangeConfiguration.

;;; Code:

(require 'cl-lib)
(require 'subr-x)

;;;; Customization

(defgroup proofwright nil
  "Proofwright, an AI proof assistant for Lean 4."
  :group 'languages
  :prefix "proofwright-")

(defvar proofwright-settings-appliers)

(defun proofwright--set-and-apply (symbol value)
  "Set SYMBOL to VALUE and send the new settings to running servers."
  (set-default symbol value)
  (when (and (boundp 'proofwright-settings-appliers) proofwright-settings-appliers)
    (proofwright-apply-settings)))

(defcustom proofwright-binary "proofwright"
  "The Proofwright executable.
A file name looked up on `exec-path', or a full path."
  :type 'string)

(defcustom proofwright-lean-major-modes '(lean4-mode)
  "Major modes of the Lean buffers Proofwright serves."
  :type '(repeat symbol))

(defcustom proofwright-model nil
  "A Hugging Face model directory or repo id.
nil means the server's default."
  :type '(choice (const :tag "Server default" nil) (string :tag "Directory or repo id"))
  :set #'proofwright--set-and-apply)

(defcustom proofwright-template "auto"
  "How prompts are rendered for the model.
\"chat\": the checkpoint's own chat template; \"completion\":
DeepSeek-Prover-V1.5 style, the model continues Lean code; \"auto\": chat
when the checkpoint has a chat template and is not a known
completion-style prover, else completion."
  :type '(choice (const "auto") (const "completion") (const "chat"))
  :set #'proofwright--set-and-apply)

(defcustom proofwright-device "auto"
  "Where the model runs."
  :type '(choice (const "auto") (const "cpu") (const "cuda"))
  :set #'proofwright--set-and-apply)

(defcustom proofwright-threads nil
  "CPU worker threads; nil means every core."
  :type '(choice (const :tag "Every core" nil) (natnum :tag "Threads"))
  :set #'proofwright--set-and-apply)

(defcustom proofwright-samples 4
  "Candidates per search round."
  :type 'natnum
  :set #'proofwright--set-and-apply)

(defcustom proofwright-rounds 2
  "Refinement rounds."
  :type 'natnum
  :set #'proofwright--set-and-apply)

(defcustom proofwright-max-new-tokens 256
  "Tokens generated per candidate at most."
  :type 'natnum
  :set #'proofwright--set-and-apply)

(defcustom proofwright-seed 0
  "Searches are deterministic for a seed."
  :type 'natnum
  :set #'proofwright--set-and-apply)

(defcustom proofwright-temperature 0.8
  "Sampling temperature of proposals; 0 is greedy."
  :type 'number
  :set #'proofwright--set-and-apply)

(defcustom proofwright-verifier "fast"
  "Neural verifier mode."
  :type '(choice (const "fast") (const "deep"))
  :set #'proofwright--set-and-apply)

(defcustom proofwright-verifier-threshold nil
  "Steps scoring below this are flagged; nil means the model's default."
  :type '(choice (const :tag "Model default" nil) (number :tag "Threshold from 0 to 1"))
  :set #'proofwright--set-and-apply)

(defcustom proofwright-lean "auto"
  "Whether candidates are checked with Lean.
\"auto\": when Lean is installed; \"off\": never; \"require\": always,
failing when Lean is not found."
  :type '(choice (const "auto") (const "off") (const "require"))
  :set #'proofwright--set-and-apply)

(defcustom proofwright-debounce-ms 500
  "Milliseconds of quiet after an edit before background verification."
  :type 'natnum
  :set #'proofwright--set-and-apply)

(defcustom proofwright-time-budget-seconds 120
  "Wall-clock budget of one search, in seconds."
  :type 'number
  :set #'proofwright--set-and-apply)

(defcustom proofwright-show-status-in-mode-line t
  "Whether the mode line shows the state of the server's model."
  :type 'boolean)

;;;; Settings object

(defconst proofwright--setting-variables
  '((:model . proofwright-model)
    (:template . proofwright-template)
    (:device . proofwright-device)
    (:threads . proofwright-threads)
    (:samples . proofwright-samples)
    (:rounds . proofwright-rounds)
    (:maxNewTokens . proofwright-max-new-tokens)
    (:seed . proofwright-seed)
    (:temperature . proofwright-temperature)
    (:verifier . proofwright-verifier)
    (:verifierThreshold . proofwright-verifier-threshold)
    (:lean . proofwright-lean)
    (:debounceMs . proofwright-debounce-ms)
    (:timeBudgetSeconds . proofwright-time-budget-seconds))
  "Server setting keys (docs/lsp.md) and the variables that hold them.")

(defun proofwright-settings ()
  "Return the server's settings object as a plist, ready for JSON.
An unset model is left out so the server uses its default; other nil
values are sent as null."
  (cl-loop for (key . variable) in proofwright--setting-variables
           for value = (symbol-value variable)
           unless (and (eq key :model) (or (null value) (string-empty-p value)))
           append (list key value)))

(defun proofwright--server-executable ()
  "Return the full path of `proofwright-binary'.
Signal a user error that says how to fix it when it is missing."
  (or (and (file-name-absolute-p proofwright-binary)
           (file-executable-p proofwright-binary)
           proofwright-binary)
      (and (not (file-name-absolute-p proofwright-binary))
           (executable-find proofwright-binary))
      (user-error "Proofwright: %s was not found: build it with `cargo install --path server' from the Proofwright repository, or set `proofwright-binary' to its full path"
                  proofwright-binary)))

(defun proofwright-server-command (&optional proxy-lean)
  "The command line that starts the server.
With PROXY-LEAN, in --proxy-lean mode."
  (append (list (proofwright--server-executable) "serve")
          (when proxy-lean (list "--proxy-lean"))))

;;;; Status

(defvar proofwright--status nil
  "The last `proofwright/status' payload, as a plist.")

(defun proofwright--get (object key)
  "KEY (a keyword) of OBJECT, a JSON object.
OBJECT is a plist or a hash table with string keys."
  (cond ((hash-table-p object) (gethash (substring (symbol-name key) 1) object))
        ((listp object) (plist-get object key))))

(defun proofwright-status-summary (status)
  "One line describing STATUS, a `proofwright.status' payload."
  (let* ((model (proofwright--get status :model))
         (lean (proofwright--get status :lean))
         (queue (proofwright--get status :queue))
         (spec (or (proofwright--get model :spec) ""))
         (name (if (string-empty-p spec) "no model" (file-name-nondirectory (directory-file-name spec))))
         (running (or (proofwright--get queue :running) 0))
         (waiting (or (proofwright--get queue :waiting) 0)))
    (concat (format "%s (%s), %s, Lean %s"
                    name (proofwright--get model :state)
                    (proofwright--get status :device)
                    (proofwright--get lean :state))
            (if (> (+ running waiting) 0) (format ", %d running, %d waiting" running waiting) "")
            (let ((message (proofwright--get model :message)))
              (if (stringp message) (format "; model: %s" message) ""))
            (let ((message (proofwright--get lean :message)))
              (if (stringp message) (format "; Lean: %s" message) "")))))

(defun proofwright--mode-line ()
  "The mode line text for the last status."
  (when (and proofwright-show-status-in-mode-line proofwright--status)
    (let* ((model (proofwright--get proofwright--status :model))
           (queue (proofwright--get proofwright--status :queue))
           (busy (> (+ (or (proofwright--get queue :running) 0) (or (proofwright--get queue :waiting) 0)) 0)))
      (format " PW[%s%s]" (proofwright--get model :state) (if busy " busy" "")))))

(defvar proofwright--mode-line-entry '(:eval (proofwright--mode-line))
  "The entry Proofwright adds to `global-mode-string'.")
(put 'proofwright--mode-line-entry 'risky-local-variable t)

(defun proofwright--status-received (status)
  "Remember STATUS and show it in the mode line."
  (setq proofwright--status status)
  (unless (member 'proofwright--mode-line-entry global-mode-string)
    (setq global-mode-string (append (or global-mode-string '("")) '(proofwright--mode-line-entry))))
  (force-mode-line-update t))

;;;; Result messages

(defun proofwright-result-message (action result)
  "A message for the RESULT of ACTION (prove, refine, verify)."
  (let* ((provenance (proofwright--get result :provenance))
         (score (proofwright--get result :score))
         (flagged (proofwright--get result :flagged))
         (server-message (proofwright--get result :message))
         (applied (eq (proofwright--get result :applied) t))
         (label (pcase provenance
                  ("lean-verified" "verified by Lean")
                  ("neural" (if (numberp score) (format "neural score %.2f, not checked by Lean" score)
                              "neural score only, not checked by Lean"))
                  ("flagged" (if (numberp score) (format "flagged by the verifier (score %.2f)" score)
                               "flagged by the verifier"))
                  ("unproved" "no proof found")
                  (_ "unknown result"))))
    (concat (format "Proofwright %s: %s" action label)
            (if applied ", applied" "")
            (if (and (sequencep flagged) (> (length flagged) 0))
                (format ", %d flagged" (length flagged))
              "")
            (if (and (stringp server-message) (not (string-empty-p server-message)))
                (format ". %s" server-message)
              ""))))

(defconst proofwright-position-commands
  '("proofwright.prove" "proofwright.refine" "proofwright.alternative" "proofwright.verify")
  "Server commands that take a position and may run for a long time.")

;;;; Clients

(cl-defstruct (proofwright-client (:constructor proofwright-client-create))
  "How Proofwright's commands reach the server of one buffer."
  (name nil :documentation "The client package, for messages.")
  (execute nil :documentation "Function (COMMAND ARGUMENTS ON-RESULT ON-ERROR).
It sends workspace/executeCommand without waiting.")
  (position-arguments nil :documentation "Function returning [{uri, position}] for point."))

(defvar proofwright-client-finders nil
  "Functions returning the current buffer's `proofwright-client', or nil.
proofwright-lsp.el and proofwright-eglot.el add theirs.")

(defvar proofwright-settings-appliers nil
  "Functions of one argument, the didChangeConfiguration params.
Each sends them to every Proofwright server its client package runs.")

(defun proofwright--current-client ()
  "The `proofwright-client' of the current buffer.
Signal a user error that says what to do when there is none."
  (or (run-hook-with-args-until-success 'proofwright-client-finders)
      (user-error "Proofwright: no Proofwright server runs for this buffer: run M-x lsp, or M-x eglot after `proofwright-eglot-setup'")))

(defun proofwright-execute (command arguments &optional on-result)
  "Send COMMAND with ARGUMENTS to this buffer's Proofwright server.
Do not wait for the answer.
ON-RESULT is called with the result; by default a message says it."
  (let* ((client (proofwright--current-client))
         (action (string-remove-prefix "proofwright." command)))
    (funcall (proofwright-client-execute client) command arguments
             (or on-result (lambda (result) (message "%s" (proofwright-result-message action result))))
             (lambda (error) (message "Proofwright %s failed: %S" action error)))))

(defun proofwright--execute-at-point (command)
  "Run the server COMMAND on the proof at point."
  (let ((client (proofwright--current-client)))
    (proofwright-execute command (funcall (proofwright-client-position-arguments client)))))

;;;; Commands

;;;###autoload
(defun proofwright-prove ()
  "Search for a proof of the `sorry' at point.
The server applies the proof it finds."
  (interactive)
  (proofwright--execute-at-point "proofwright.prove"))

;;;###autoload
(defun proofwright-refine ()
  "Regenerate the flagged step at point with the verifier's feedback."
  (interactive)
  (proofwright--execute-at-point "proofwright.refine"))

;;;###autoload
(defun proofwright-alternative ()
  "Propose a different step for the step at point."
  (interactive)
  (proofwright--execute-at-point "proofwright.alternative"))

;;;###autoload
(defun proofwright-verify ()
  "Verify the proof at point and refresh its diagnostics.
The check is neural, and by Lean when `proofwright-lean' allows."
  (interactive)
  (proofwright--execute-at-point "proofwright.verify"))

;;;###autoload
(defun proofwright-status ()
  "Show the server's model, device, Lean state and search queue."
  (interactive)
  (proofwright-execute "proofwright.status" []
                       (lambda (status)
                         (proofwright--status-received status)
                         (message "Proofwright: %s" (proofwright-status-summary status)))))

;;;###autoload
(defun proofwright-apply-settings ()
  "Send the current settings to every running Proofwright server."
  (interactive)
  (let ((params (list :settings (list :proofwright (proofwright-settings)))))
    (run-hook-with-args 'proofwright-settings-appliers params)))

(provide 'proofwright)

;;; proofwright.el ends here
