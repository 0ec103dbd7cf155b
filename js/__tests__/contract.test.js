// Issue 12: the page speaks the kernel's contract. seedance_widgets/widgets/contract.json holds the
// job states, the message kinds and the card's data fields; the Python side reads or checks the same
// file (tests/widgets/test_contract.py), so the two sides cannot drift apart.
import { describe, expect, it } from "vitest";
import contract from "../../seedance_widgets/widgets/contract.json";
import { CARD_FIELDS } from "../lib/job_card.js";
import { FINAL_STATES, STATES, isFinal, stateLabel, stateTone } from "../lib/job_state.js";
import * as messages from "../lib/messages.js";

describe("contract.json", () => {
  it("message kinds: js/lib/messages.js exports exactly the contract's", () => {
    expect({ ...messages }).toEqual(contract.messages);
  });

  it("job states: one table with the contract's labels, notes, tones and final flags", () => {
    expect(STATES).toEqual(contract.states);
    for (const [state, style] of Object.entries(contract.states)) {
      expect(isFinal(state)).toBe(style.final);
      expect(stateTone(state)).toBe(style.tone);
      const note = "note" in style ? ` (${style.note})` : "";
      expect(stateLabel(state)).toBe(`${style.label}${note}`);
    }
    expect([...FINAL_STATES].sort()).toEqual(Object.keys(contract.states).filter((s) => isFinal(s)).sort());
    expect(stateLabel("made-up")).toBe("made-up");
    expect(stateTone("toString")).toBe("active");
  });

  it("card fields: the job card draws the contract's fields", () => {
    expect([...CARD_FIELDS]).toEqual(contract.card_fields);
  });
});
