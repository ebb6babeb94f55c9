/* What the console remembers, in sessionStorage: it lives as long as the tab, so an admin
   token or a project secret never outlives the operator's session on a shared computer. */

const PREFIX = "switchboard.console.";

function read(name) {
  try { return sessionStorage.getItem(PREFIX + name); } catch { return null; }
}

function write(name, value) {
  try {
    if (value === null || value === undefined) sessionStorage.removeItem(PREFIX + name);
    else sessionStorage.setItem(PREFIX + name, value);
  } catch { /* storage disabled: the console still works until the tab reloads */ }
}

export const store = {
  get token() { return read("token"); },
  set token(value) { write("token", value); },
  /** The project secret shown at creation or rotation (needed to chat as a client). */
  secret(project) { return read(`secret.${project}`); },
  setSecret(project, value) { write(`secret.${project}`, value); },
  /** The "try it" user id, so the conversation continues across page changes. */
  tryUid(project) { return read(`try.${project}`); },
  setTryUid(project, value) { write(`try.${project}`, value); },
  /** When an operator of this tab last opened a session (its last_at then): what is unread. */
  seen(project, session) { return read(`seen.${project}.${session}`); },
  setSeen(project, session, at) { write(`seen.${project}.${session}`, at); },
  get lastProject() { return read("project"); },
  set lastProject(value) { write("project", value); },
  clear() {
    try {
      for (const key of Object.keys(sessionStorage)) {
        if (key.startsWith(PREFIX)) sessionStorage.removeItem(key);
      }
    } catch { /* nothing stored */ }
  },
};
