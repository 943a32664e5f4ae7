// What the service may use on Amazon DocumentDB 5.0, and what differs from MongoDB. The test
// test/documentdb.spec.ts reads every MongoDB operator and call in the code that talks to the
// database (the files importing mongoose) and fails on one not listed as supported here, so a
// new query is checked against DocumentDB before it reaches production.
// Source: "Supported MongoDB APIs, operations, and data types in Amazon DocumentDB" and
// "Functional differences: Amazon DocumentDB and MongoDB" (AWS DocumentDB developer guide).

/** Query and update operators DocumentDB 5.0 supports (a subset: those worth allowing). */
export const SUPPORTED_OPERATORS = new Set([
  // query
  '$eq',
  '$ne',
  '$gt',
  '$gte',
  '$lt',
  '$lte',
  '$in',
  '$nin',
  '$and',
  '$or',
  '$nor',
  '$not',
  '$exists',
  '$type',
  '$size',
  '$all',
  '$elemMatch',
  '$regex',
  '$options',
  // update
  '$set',
  '$setOnInsert',
  '$unset',
  '$inc',
  '$min',
  '$max',
  '$push',
  '$pull',
  '$addToSet',
  '$each',
  '$slice',
  '$position',
  '$pop',
  '$currentDate',
  '$rename',
  '$mul',
]);

/** Operators and features DocumentDB 5.0 does not have (or not as MongoDB does). */
export const UNSUPPORTED = {
  operators: [
    '$where',
    '$function',
    '$accumulator',
    '$jsonSchema',
    '$text',
    '$near',
    '$expr',
    '$merge',
    '$setWindowFields',
    '$natural',
  ],
  calls: ['collation', 'watch', 'mapReduce', 'hint'],
};

/** Driver/mongoose calls the service makes that are known to behave the same on DocumentDB. */
export const SUPPORTED_CALLS = new Set([
  'find',
  'findOne',
  'findById',
  'updateOne',
  'updateMany',
  'deleteOne',
  'deleteMany',
  'insertOne',
  'insertMany',
  'create',
  'createIndex',
  'countDocuments',
  'exists',
  'lean',
  'project',
  'sort',
  'limit',
  'select',
  'exec',
  'toArray',
  'ping',
  'command',
]);
