import neostandard from 'neostandard'

export default neostandard({
  ts: true,
  ignores: ['dist/**', 'coverage/**', 'examples/public/build/**', 'test/artifacts/**']
})
