-- Reserved for issue 18 (console), replaced at merge.
SELECT 1;
