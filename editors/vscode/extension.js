// The leadscore extension: the grammar and language configuration are declared in
// package.json; this starts `leadscore lsp` as the language server for `.rules` files.
"use strict";

const path = require("path");
const vscode = require("vscode");
const { LanguageClient } = require("vscode-languageclient/node");

let client;

/** The server command and its arguments, from the `leadscore.*` settings. */
function serverOptions() {
  const config = vscode.workspace.getConfiguration("leadscore");
  const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  const args = ["lsp", "--debounce", String(config.get("debounce", 200))];
  for (const dir of config.get("plugins", [])) {
    args.push("--plugins", folder && !path.isAbsolute(dir) ? path.join(folder, dir) : dir);
  }
  return { command: config.get("path", "leadscore"), args, options: { cwd: folder } };
}

async function start() {
  client = new LanguageClient("leadscore", "leadscore", serverOptions(), {
    documentSelector: [{ scheme: "file", language: "leadscore" }],
    synchronize: {
      // Plugin scripts and sample leads change what the server says about a pack.
      fileEvents: vscode.workspace.createFileSystemWatcher("**/*.{rules,rhai,json}"),
    },
  });
  try {
    await client.start();
  } catch (e) {
    vscode.window.showErrorMessage(
      `leadscore: could not start \`${serverOptions().command} lsp\` (${e.message}). ` +
        "Install it with `cargo install --locked --path .` from the repository (the language server is in the default build) and set `leadscore.path`."
    );
  }
}

async function activate(context) {
  await start();
  context.subscriptions.push(
    vscode.workspace.onDidChangeConfiguration(async (event) => {
      if (event.affectsConfiguration("leadscore")) {
        await deactivate();
        await start();
      }
    })
  );
}

async function deactivate() {
  if (client) {
    const stopping = client;
    client = undefined;
    await stopping.stop().catch(() => {});
  }
}

module.exports = { activate, deactivate };
