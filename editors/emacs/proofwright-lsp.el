;;; proofwright-lsp.el --- Proofwright as an lsp-mode add-on client  -*- lexical-binding: t; -*-

;; Version: 0.1.0
;; Package-Requires: ((emacs "27.1") (lsp-mode "8.0.0"))
;; SPDX-License-Identifier: Apache-2.0

;;; Commentary:

;; Registers `proofwright serve' as an lsp-mode add-on client for the buffers
;; of `proofwright-lean-major-modes', so it runs beside lean4-mode's own
;; client:
;;
;;   (with-eval-after-load 'lsp-mode (require 'proofwright-lsp))

;;; Code:

(require 'cl-lib)
(require 'lsp-mode)
(require 'proofwright)

(defconst proofwright-lsp-server-id 'proofwright
  "The lsp-mode server id of Proofwright's client.")

(defun proofwright-lsp--workspace ()
  "The Proofwright workspace of the current buffer, or nil."
  (and (bound-and-true-p lsp-mode)
       (cl-find-if (lambda (workspace)
                     (eq (lsp--client-server-id (lsp--workspace-client workspace))
                         proofwright-lsp-server-id))
                   (lsp-workspaces))))

(defun proofwright-lsp--execute-in (workspace command arguments on-result on-error)
  "Send COMMAND with ARGUMENTS to WORKSPACE only, without waiting.
ON-RESULT gets the result, ON-ERROR the error."
  (with-lsp-workspaces (list workspace)
    (lsp-request-async "workspace/executeCommand"
                       (list :command command :arguments arguments)
                       on-result
                       :error-handler on-error
                       :mode 'detached)))

(defun proofwright-lsp--client ()
  "The `proofwright-client' of the current buffer.
nil unless lsp-mode runs Proofwright for it."
  (when-let ((workspace (proofwright-lsp--workspace)))
    (proofwright-client-create
     :name "lsp-mode"
     :execute (lambda (command arguments on-result on-error)
                (proofwright-lsp--execute-in workspace command arguments on-result on-error))
     :position-arguments (lambda ()
                           (vector (list :uri (lsp--buffer-uri) :position (lsp--cur-position)))))))

(defun proofwright-lsp--apply-settings (params)
  "Send didChangeConfiguration PARAMS to every Proofwright workspace."
  (let (workspaces)
    (dolist (buffer (buffer-list))
      (with-current-buffer buffer
        (when-let ((workspace (proofwright-lsp--workspace)))
          (cl-pushnew workspace workspaces))))
    (dolist (workspace workspaces)
      (with-lsp-workspaces (list workspace)
        (lsp-notify "workspace/didChangeConfiguration" params)))))

(defun proofwright-lsp--execute-action (command)
  "Run COMMAND, the Command of a code action, on Proofwright's server.
The search may be long, so nothing waits for it; the server applies its
edit with workspace/applyEdit."
  (let ((name (lsp:command-command command)))
    (proofwright-execute name (lsp:command-arguments? command))))

(defun proofwright-lsp--initialized (workspace)
  "Send the settings to WORKSPACE once it is initialized."
  (with-lsp-workspaces (list workspace)
    (lsp-notify "workspace/didChangeConfiguration"
                (list :settings (list :proofwright (proofwright-settings))))))

(defun proofwright-lsp--custom-settings ()
  "Entries for `lsp-register-custom-settings'.
They answer workspace/configuration."
  (cl-loop for (key . variable) in proofwright--setting-variables
           collect (list (format "proofwright.%s" (substring (symbol-name key) 1)) variable)))

(defun proofwright-lsp-register-client ()
  "Register Proofwright as an lsp-mode add-on client.
It serves the buffers of `proofwright-lean-major-modes'."
  (dolist (mode proofwright-lean-major-modes)
    (unless (assq mode lsp-language-id-configuration)
      (push (cons mode "lean4") lsp-language-id-configuration)))
  (lsp-register-custom-settings (proofwright-lsp--custom-settings))
  (let ((action-handlers (make-hash-table :test #'equal))
        (notification-handlers (make-hash-table :test #'equal)))
    (dolist (command proofwright-position-commands)
      (puthash command #'proofwright-lsp--execute-action action-handlers))
    (puthash "proofwright/status"
             (lambda (_workspace status) (proofwright--status-received status))
             notification-handlers)
    (lsp-register-client
     (make-lsp-client
      :new-connection (lsp-stdio-connection (lambda () (proofwright-server-command))
                                            (lambda () (ignore-errors (proofwright--server-executable))))
      :major-modes proofwright-lean-major-modes
      :add-on? t
      :priority -1
      :server-id proofwright-lsp-server-id
      :initialization-options (lambda () (proofwright-settings))
      :initialized-fn #'proofwright-lsp--initialized
      :notification-handlers notification-handlers
      :action-handlers action-handlers))))

(proofwright-lsp-register-client)
(add-hook 'proofwright-client-finders #'proofwright-lsp--client)
(add-hook 'proofwright-settings-appliers #'proofwright-lsp--apply-settings)

(provide 'proofwright-lsp)

;;; proofwright-lsp.el ends here
