/** A table of the publication, as a pair: a schema or table name may itself hold a dot. */
export interface PublishedTable {
  readonly schema: string;
  readonly table: string;
}
