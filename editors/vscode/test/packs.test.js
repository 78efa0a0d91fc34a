// Tokenises every rule file of the example packs (rules/*/*.rules) with the grammar, as
// VS Code does, and checks the scopes: every character but blanks and brackets gets a
// scope of its own, comments and rule names are what they are, no string runs past
// its line.
"use strict";

const test = require("node:test");
const assert = require("node:assert");
const fs = require("fs");
const path = require("path");
const vsctm = require("vscode-textmate");
const oniguruma = require("vscode-oniguruma");

const root = path.join(__dirname, "..", "..", "..");
const packs = ["b2b-saas", "agency", "fintech"];

async function grammar() {
  const wasm = fs.readFileSync(require.resolve("vscode-oniguruma/release/onig.wasm")).buffer;
  await oniguruma.loadWASM(wasm);
  const registry = new vsctm.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (patterns) => new oniguruma.OnigScanner(patterns),
      createOnigString: (s) => new oniguruma.OnigString(s),
    }),
    loadGrammar: async () =>
      vsctm.parseRawGrammar(
        fs.readFileSync(path.join(__dirname, "..", "syntaxes", "leadscore.tmLanguage.json"), "utf8"),
        "leadscore.tmLanguage.json"
      ),
  });
  return registry.loadGrammar("source.leadscore");
}

/** Every line of a file as [text, tokens], tokenised in order, and the state after it. */
function tokenise(g, text) {
  let stack = vsctm.INITIAL;
  const lines = text.split("\n").map((line) => {
    const result = g.tokenizeLine(line, stack);
    stack = result.ruleStack;
    return [line, result.tokens];
  });
  return { lines, stack };
}

const has = (token, scope) => token.scopes.some((s) => s.startsWith(scope));

test("the example packs tokenise with a scope for every word", async (t) => {
  const g = await grammar();
  let files = 0;
  for (const pack of packs) {
    const dir = path.join(root, "rules", pack);
    for (const name of fs.readdirSync(dir).filter((f) => f.endsWith(".rules"))) {
      files += 1;
      await t.test(`${pack}/${name}`, () => {
        const { lines, stack } = tokenise(g, fs.readFileSync(path.join(dir, name), "utf8"));
        lines.forEach(([line, tokens], i) => {
          const where = `${pack}/${name}:${i + 1}: ${line}`;
          for (const token of tokens) {
            const text = line.slice(token.startIndex, token.endIndex);
            if (token.scopes.length === 1) {
              assert.match(text, /^[\s()[\]]*$/, `unscoped ${JSON.stringify(text)} in ${where}`);
            }
            assert.ok(!token.scopes.some((s) => s.startsWith("invalid")), `invalid token in ${where}`);
          }
          if (/^\s*#/.test(line)) {
            assert.ok(tokens.every((tk) => has(tk, "comment") || /^\s*$/.test(line.slice(tk.startIndex, tk.endIndex))), where);
          }
          const comment = tokens.find((tk) => has(tk, "comment"));
          const code = line.slice(0, comment ? comment.startIndex : line.length);
          const arrow = code.indexOf("=>");
          if (arrow >= 0) {
            const tk = tokens.find((tk) => tk.startIndex === arrow);
            assert.ok(tk && has(tk, "keyword.operator.arrow"), `=> in ${where}`);
          }
          if (/^rule "/.test(line)) {
            assert.ok(has(tokens[0], "keyword.control.rule"), where);
            assert.ok(tokens.some((tk) => has(tk, "entity.name.function.rule")), where);
          }
          if (/^(cap|decay|dimension) /.test(line)) {
            assert.ok(tokens.some((tk) => has(tk, "entity.name.type.dimension")), where);
          }
        });
        // A string or anything else left open would carry into the next file.
        assert.deepStrictEqual(g.tokenizeLine("x", stack).tokens[0].scopes, ["source.leadscore", "variable.other.field.leadscore"]);
      });
    }
  }
  assert.ok(files >= 4, `found ${files} rule files`);
});

test("a string or regex left open ends at its line", async () => {
  const g = await grammar();
  const { lines } = tokenise(g, 'title ~ "open\ntitle ~ /open\ntitle ~ VP => +5\n');
  for (const [line, tokens] of lines.slice(1, 3)) {
    assert.ok(has(tokens[0], "variable.other.field"), `${line}: ${JSON.stringify(tokens[0].scopes)}`);
  }
});
