// A pointer drag on one element, after its pointerdown: `move` for each pointermove, `end` once
// on pointerup or pointercancel, then the listeners are gone. (The handles and the data points.)

/** @param {Element} el  @param {(ev: PointerEvent) => void} move  @param {() => void} end */
export function followPointer(el, move, end) {
  const up = () => {
    el.removeEventListener("pointermove", move);
    el.removeEventListener("pointerup", up);
    el.removeEventListener("pointercancel", up);
    end();
  };
  el.addEventListener("pointermove", move);
  el.addEventListener("pointerup", up);
  el.addEventListener("pointercancel", up);
}
