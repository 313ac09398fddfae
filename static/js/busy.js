// busyMessage is what chat.js and arena.js put in place of an answer whose stream the server refused
// (a "busy" event: no generation slot free, or the reader's rate limit used up): the server's message
// and a Retry button that calls onRetry. data is the event's JSON ({message, retry_after}).
window.busyMessage = function busyMessage(data, onRetry) {
  let d;
  try {
    d = JSON.parse(data);
  } catch {
    d = { message: "The server is busy; try again in a few seconds." };
  }
  const box = document.createElement("div");
  box.className = "error busy-message";
  box.dataset.testid = "busy-message";
  const text = document.createElement("span");
  text.textContent = d.message;
  const retry = document.createElement("button");
  retry.type = "button";
  retry.className = "small";
  retry.dataset.testid = "retry";
  retry.textContent = "Retry";
  retry.addEventListener("click", onRetry);
  box.append(text, retry);
  return box;
};
