// Loads an automerge document exported by `sprechtag case export` and prints
// its contents as JSON, proving that another implementation can read it.
import { readFileSync } from "node:fs";
import * as Automerge from "@automerge/automerge";

const doc = Automerge.load(new Uint8Array(readFileSync(process.argv[2])));
// As is: integers must come back as numbers (a BigInt makes JSON.stringify
// throw), which they do since integers are stored signed.
process.stdout.write(JSON.stringify(doc));
