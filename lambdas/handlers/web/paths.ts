/** The browser routes' paths, where pages link to and where the callback sends the browser. */
import { ROUTES } from '../../routes';

/** The target of every "Connect to QuickBooks" button. */
export const CONNECT_PATH = ROUTES.connect.path;
/** Outcome pages live at `${OUTCOME_PATH}/{kind}`. */
export const OUTCOME_PATH = ROUTES.outcome.path.replace(/\/\{kind\}$/, '');
