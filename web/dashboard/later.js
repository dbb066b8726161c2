// later: what the dashboard shows after the first numbers (main.js imports
// it once they are on screen): the queues, the charts (uPlot, more than
// half of the page's script), the tables and the ticker.
export { Queues } from './queues.js';
export { Charts } from './charts.js';
export { Tasks } from './tasks.js';
export { Roster } from './roster.js';
export { Ticker } from './ticker.js';
