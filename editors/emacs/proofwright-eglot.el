;;; proofwright-eglot.el --- Proofwright for eglot, through --proxy-lean  -*- lexical-binding: t; -*-

;; Version: 0.1.0
;; Package-Requires: ((emacs "27.1") (eglot "1.9"))
;; SPDX-License-Identifier: Apache-2.0

;;; Commentary:

;; eglot runs one server per buffer, so Proofwright and Lean's own server
;; cannot both serve a Lean buffer.  `proofwright serve --proxy-lean' solves
;; this: it starts Lean's server (`lake serve') itself, forwards every Lean
;; request and notification to it and merges its own results.
;;
;;   (require 'proofwright-eglot)
;;   (proofwright-eglot-setup)
;;   (add-hook 'lean4-mode-hook #'eglot-ensure)

;;; Code:

(require 'cl-lib)
(require 'eglot)
(require 'jsonrpc)
(require 'proofwright)

(defclass proofwright-eglot-server (eglot-lsp-server) ()
  :documentation "A Proofwright server in --proxy-lean mode.
It also serves Lean's own requests.")

(cl-defmethod eglot-initialization-options ((_server proofwright-eglot-server))
  "Proofwright's settings object."
  (proofwright-settings))

(defun proofwright-eglot--execute-in (server command arguments on-result on-error)
  "Send COMMAND with ARGUMENTS to SERVER without waiting.
ON-RESULT gets the result, ON-ERROR the error."
  (jsonrpc-async-request server :workspace/executeCommand
                         (list :command command :arguments arguments)
                         :success-fn on-result
                         :error-fn on-error
                         ;; A search outlives jsonrpc's default timeout; its answer still comes.
                         :timeout-fn #'ignore))

(cl-defmethod eglot-execute-command ((server proofwright-eglot-server) command arguments)
  "Run Proofwright's search COMMAND with ARGUMENTS on SERVER, without waiting.
Searches run longer than eglot's synchronous requests may; the server
applies its edit with workspace/applyEdit.  Other commands go to eglot."
  (let ((name (format "%s" command)))
    (if (member name proofwright-position-commands)
        (let ((action (string-remove-prefix "proofwright." name)))
          (proofwright-eglot--execute-in
           server name arguments
           (lambda (result) (message "%s" (proofwright-result-message action result)))
           (lambda (error) (message "Proofwright %s failed: %S" action error))))
      (cl-call-next-method))))

(cl-defmethod eglot-handle-notification ((_server proofwright-eglot-server)
                                         (_method (eql proofwright/status))
                                         &rest status)
  "Show the server's STATUS in the mode line."
  (proofwright--status-received status))

(defun proofwright-eglot--server ()
  "The current buffer's eglot server if it is a Proofwright server."
  (let ((server (eglot-current-server)))
    (and server (object-of-class-p server 'proofwright-eglot-server) server)))

(defun proofwright-eglot--client ()
  "The `proofwright-client' of the current buffer.
nil unless eglot runs Proofwright for it."
  (when-let ((server (proofwright-eglot--server)))
    (proofwright-client-create
     :name "eglot"
     :execute (lambda (command arguments on-result on-error)
                (proofwright-eglot--execute-in server command arguments on-result on-error))
     :position-arguments (lambda ()
                           (vector (list :uri (plist-get (eglot--TextDocumentIdentifier) :uri)
                                         :position (eglot--pos-to-lsp-position)))))))

(defun proofwright-eglot--apply-settings (params)
  "Send didChangeConfiguration PARAMS to every Proofwright server.
These are the servers eglot runs."
  (dolist (servers (hash-table-values eglot--servers-by-project))
    (dolist (server servers)
      (when (object-of-class-p server 'proofwright-eglot-server)
        (jsonrpc-notify server :workspace/didChangeConfiguration params)))))

(defun proofwright-eglot-contact (&optional _interactive)
  "The eglot contact for Proofwright.
It runs `proofwright serve --proxy-lean' in its own server class."
  (cons 'proofwright-eglot-server (proofwright-server-command t)))

;;;###autoload
(defun proofwright-eglot-setup ()
  "Make eglot run `proofwright serve --proxy-lean' on Lean buffers.
It replaces the entry for `proofwright-lean-major-modes' in
`eglot-server-programs': the proxy runs Lean's own server."
  (interactive)
  (let ((modes proofwright-lean-major-modes))
    (setq eglot-server-programs
          (cons (cons (if (cdr modes) modes (car modes)) #'proofwright-eglot-contact)
                (cl-remove-if (lambda (entry)
                                (let ((key (car entry)))
                                  (cl-some (lambda (mode) (if (listp key) (memq mode key) (eq key mode)))
                                           modes)))
                              eglot-server-programs)))))

(add-hook 'proofwright-client-finders #'proofwright-eglot--client)
(add-hook 'proofwright-settings-appliers #'proofwright-eglot--apply-settings)

(provide 'proofwright-eglot)

;;; proofwright-eglot.el ends here
