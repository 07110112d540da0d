/** The browser routes' paths, where pages link to and where the callback sends the browser. */

/** The target of every "Connect to QuickBooks" button. */
export const CONNECT_PATH = '/connect';
/** Outcome pages live at `${OUTCOME_PATH}/{kind}`. */
export const OUTCOME_PATH = '/outcome';
