// Content gaps: while a run is queued or running, poll its progress and reload when it is done.
const run = document.getElementById("gap-run");
if (run && ["queued", "running"].includes(run.dataset.status)) {
  const bar = run.querySelector("progress");
  const stage = run.querySelector(".gap-stage");
  const poll = async () => {
    try {
      const response = await fetch(run.dataset.progressUrl, { credentials: "same-origin" });
      const state = await response.json();
      if (state.status === "done" || state.status === "failed") {
        window.location.reload();
        return;
      }
      if (bar) bar.value = state.progress;
      if (stage) stage.textContent = state.stage || state.status;
    } catch {
      // The server may be restarting: try again on the next tick.
    }
    setTimeout(poll, 1500);
  };
  setTimeout(poll, 1500);
}
