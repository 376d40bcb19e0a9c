// Booleans are spelled as Go's strconv.ParseBool reads them, as the Go tool read its flags: the one list of them.
const TRUE: readonly string[] = ['1', 't', 'T', 'true', 'TRUE', 'True'];
const FALSE: readonly string[] = ['0', 'f', 'F', 'false', 'FALSE', 'False'];

/** true or false; undefined for a spelling Go refuses (e.g. "yes"). */
export function parseGoBool(value: string): boolean | undefined {
  if (TRUE.includes(value)) return true;
  if (FALSE.includes(value)) return false;
  return undefined;
}
